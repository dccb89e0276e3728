# Snapshot the VPS every 6 hours. HostUp keeps each snapshot about 24 hours, so
# this keeps up to 4 at a time, in the same slots as manual snapshots.
resource "hostup_vps_snapshot_schedule" "web" {
  vps_id         = "vps_01hxa3b4c5d6e7f8g9h0j1k2m3"
  interval_hours = 6
}
