# Take a named snapshot of the VPS before an upgrade, to roll back to with
# hostup_vps_snapshot_restore if the upgrade goes wrong. Destroying this resource
# deletes the snapshot on HostUp.
resource "hostup_vps_snapshot" "before_upgrade" {
  vps_id      = "vps_01hxa3b4c5d6e7f8g9h0j1k2m3"
  name        = "before-upgrade-2026-11"
  description = "Before the November upgrade"

  timeouts {
    create = "30m"
  }
}
