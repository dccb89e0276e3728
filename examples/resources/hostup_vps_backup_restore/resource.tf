# Restore yesterday's backup of the VPS in place. This REPLACES THE VPS DISK:
# everything written since the backup was taken is lost.
data "hostup_vps_backups" "web" {
  vps_id = "vps_01hxa3b4c5d6e7f8g9h0j1k2m3"
}

resource "hostup_vps_backup_restore" "rollback" {
  vps_id    = data.hostup_vps_backups.web.vps_id
  backup_id = "bkp_01hxa3b4c5d6e7f8g9h0j1k2m3"

  timeouts {
    create = "60m"
  }
}

# Or restore another VPS's backup onto this one (the source keeps its disk).
resource "hostup_vps_backup_restore" "clone" {
  vps_id        = "vps_01hxa3b4c5d6e7f8g9h0j1k2m7"
  source_vps_id = "vps_01hxa3b4c5d6e7f8g9h0j1k2m3"
  backup_id     = "bkp_01hxa3b4c5d6e7f8g9h0j1k2m3"
}
