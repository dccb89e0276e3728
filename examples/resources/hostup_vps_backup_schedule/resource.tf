# Back the VPS up every night at 02:00 and keep the last seven backups.
resource "hostup_vps_backup_schedule" "nightly" {
  vps_id          = "vps_01hxa3b4c5d6e7f8g9h0j1k2m3"
  frequency       = "daily"
  hour            = 2
  retention_count = 7
  name            = "Nightly backup"
}

# Or once a week, on Sunday (0) at 03:00, keeping four.
resource "hostup_vps_backup_schedule" "weekly" {
  vps_id          = "vps_01hxa3b4c5d6e7f8g9h0j1k2m7"
  frequency       = "weekly"
  day_of_week     = 0
  hour            = 3
  retention_count = 4
}
