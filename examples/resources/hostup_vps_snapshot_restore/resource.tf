# DANGER: applying this REPLACES THE DISK of the VPS with the snapshot. Everything
# written to the VPS since the snapshot was taken is lost. Take a backup first
# (hostup_vps_backup) if you may need today's data again.
resource "hostup_vps_snapshot_restore" "rollback" {
  vps_id        = "vps_01hxa3b4c5d6e7f8g9h0j1k2m3"
  snapshot_name = "before-upgrade"

  # Restoring runs once. To roll back to the same snapshot again later, change a trigger.
  triggers = {
    attempt = "1"
  }

  timeouts {
    create = "30m"
  }
}
