# A VPS has at most one snapshot schedule: it is imported by the VPS id.
terraform import hostup_vps_snapshot_schedule.web vps_01hxa3b4c5d6e7f8g9h0j1k2m3
