import {
  to = hostup_vps_snapshot_restore.rollback
  identity = {
    vps_id = "vps_01hxa3b4c5d6e7f8g9h0j1k2m3"
    job_id = "job_01hxb2c3d4e5f6g7h8j9k0m1n3"
  }
}
