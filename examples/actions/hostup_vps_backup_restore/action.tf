# Terraform 1.14 and later. DANGER: invoking this REPLACES THE DISK of the VPS
# with the backup. Everything written since the backup was taken is lost.
#
# It runs only when invoked; a plain `terraform apply` never does. Restore the
# newest nightly backup with:
#   terraform apply -invoke=action.hostup_vps_backup_restore.last_night
data "hostup_vps_backups" "nightly" {
  vps_id      = "vps_01hxa3b4c5d6e7f8g9h0j1k2m3"
  backup_type = "scheduled"
}

action "hostup_vps_backup_restore" "last_night" {
  config {
    vps_id    = data.hostup_vps_backups.nightly.vps_id
    backup_id = data.hostup_vps_backups.nightly.latest.id
    timeout   = "60m"
  }
}

# Or put another VPS's backup onto this one (the source VPS keeps its disk):
#   terraform apply -invoke=action.hostup_vps_backup_restore.clone
action "hostup_vps_backup_restore" "clone" {
  config {
    vps_id        = "vps_01hxa3b4c5d6e7f8g9h0j1k2m7"
    source_vps_id = "vps_01hxa3b4c5d6e7f8g9h0j1k2m3"
    backup_id     = "bkp_01hxa3b4c5d6e7f8g9h0j1k2m3"
  }
}
