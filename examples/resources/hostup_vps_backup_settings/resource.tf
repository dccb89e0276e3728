# Keep at most ten backups of the VPS, deleting the oldest to make room for a new one.
resource "hostup_vps_backup_settings" "web" {
  vps_id             = "vps_01hxa3b4c5d6e7f8g9h0j1k2m3"
  max_total_backups  = 10
  auto_delete_oldest = true
}
