# Terraform 1.14 and later. Take a snapshot named after the release before each
# release is recorded. Snapshot names are unique per VPS, so the name changes
# with the release; HostUp expires the snapshot after about 24 hours.
variable "release" {
  description = "The release about to be deployed."
  type        = string
  default     = "2026-11-1"
}

action "hostup_vps_snapshot" "before_release" {
  config {
    vps_id      = "vps_01hxa3b4c5d6e7f8g9h0j1k2m3"
    name        = "before-${var.release}"
    description = "Before release ${var.release}"
    timeout     = "30m"
  }
}

# terraform_data is built into Terraform: it is created with the first release
# and updated whenever `input` changes; the snapshot is taken just before either.
resource "terraform_data" "release" {
  input = var.release

  lifecycle {
    action_trigger {
      events  = [before_create, before_update]
      actions = [action.hostup_vps_snapshot.before_release]
    }
  }
}
