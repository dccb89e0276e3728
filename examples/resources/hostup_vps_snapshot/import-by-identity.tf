import {
  to = hostup_vps_snapshot.before_upgrade
  identity = {
    vps_id = "vps_01hxa3b4c5d6e7f8g9h0j1k2m3"
    name   = "before-upgrade-2026-11"
  }
}
