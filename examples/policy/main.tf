# A VPS's backup and snapshot policy as code: nightly offsite backups kept for a
# week, room for them, and a snapshot every 6 hours for quick rollbacks.

variable "vps_id" {
  description = "Id of the VPS (vps_…); the hostup_vps data source looks one up by name."
  type        = string
}

# Every night at 02:00 an offsite backup; HostUp keeps the last seven.
resource "hostup_vps_backup_schedule" "nightly" {
  vps_id          = var.vps_id
  frequency       = "daily"
  hour            = 2
  retention_count = 7
  name            = "Nightly backup"
}

# Room for the week of nightly backups plus a few manual ones; when full, HostUp
# deletes the oldest backup to make room for the new one.
resource "hostup_vps_backup_settings" "this" {
  vps_id             = var.vps_id
  max_total_backups  = 10
  auto_delete_oldest = true
}

# A snapshot every 6 hours. Snapshots live about 24 hours, so this keeps up to
# four at a time, in the same slots as manual snapshots.
resource "hostup_vps_snapshot_schedule" "every_6h" {
  vps_id         = var.vps_id
  interval_hours = 6
}

output "backup_schedule_id" {
  value = hostup_vps_backup_schedule.nightly.id
}
