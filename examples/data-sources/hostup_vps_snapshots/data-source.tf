data "hostup_vps_snapshots" "app" {
  vps_id = "vps_01hxa3b4c5d6e7f8g9h0j1k2m3"
}

# The names a hostup_vps_snapshot_restore could roll back to.
output "snapshot_names" {
  value = [for s in data.hostup_vps_snapshots.app.snapshots : s.name]
}

output "snapshot_slots" {
  value = "${data.hostup_vps_snapshots.app.used_snapshots} of ${data.hostup_vps_snapshots.app.total_snapshots} used"
}

# Whether HostUp would accept a restore right now, and if not why (reason and code).
output "can_restore" {
  value = data.hostup_vps_snapshots.app.can_restore
}
