# Terraform 1.14 and later. DANGER: invoking this REPLACES THE DISK of the VPS
# with the snapshot. Everything written since the snapshot was taken is lost.
#
# Nothing triggers it: it runs only when invoked, and a plain `terraform apply`
# never does. Roll back with:
#   terraform apply -invoke=action.hostup_vps_snapshot_restore.rollback
action "hostup_vps_snapshot_restore" "rollback" {
  config {
    vps_id        = "vps_01hxa3b4c5d6e7f8g9h0j1k2m3"
    snapshot_name = "before-upgrade"
    timeout       = "30m"
  }
}
