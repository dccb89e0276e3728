# Restore last night's backup onto the VPS. THIS REPLACES THE VPS DISK: everything
# written since the backup was taken is lost. Apply it only when you mean it,
# e.g. `terraform apply -var restore=true`.

variable "vps_id" {
  description = "Id of the VPS (vps_…) to roll back."
  type        = string
}

variable "restore" {
  description = "Set to true to restore; the default plans nothing."
  type        = bool
  default     = false
}

# The newest backup the nightly schedule took.
data "hostup_vps_backups" "nightly" {
  vps_id      = var.vps_id
  backup_type = "scheduled"
}

resource "hostup_vps_backup_restore" "last_night" {
  count     = var.restore ? 1 : 0
  vps_id    = var.vps_id
  backup_id = data.hostup_vps_backups.nightly.latest.id

  timeouts {
    create = "60m"
  }
}

output "restored_backup" {
  value = var.restore ? data.hostup_vps_backups.nightly.latest : null
}
