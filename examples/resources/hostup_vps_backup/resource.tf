variable "release" {
  description = "The release about to be deployed; a new value runs a new backup."
  type        = string
  default     = "2026.11.1"
}

# Queue an offsite backup of the VPS and wait until HostUp reports it completed.
# Changing `release` plans a replacement, which runs a new backup. Destroying this
# resource only removes it from the state: the backup stays on HostUp.
resource "hostup_vps_backup" "before_upgrade" {
  vps_id = "vps_01hxa3b4c5d6e7f8g9h0j1k2m3"
  note   = "Before upgrade to ${var.release}"

  triggers = {
    release = var.release
  }

  timeouts {
    create = "60m"
  }
}
