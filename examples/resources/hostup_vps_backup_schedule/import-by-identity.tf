import {
  to = hostup_vps_backup_schedule.nightly
  identity = {
    vps_id = "vps_01hxa3b4c5d6e7f8g9h0j1k2m3"
  }
}
