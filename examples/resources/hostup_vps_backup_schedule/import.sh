# A backup schedule is imported by the VPS id and the schedule id: <vps_id>/<schedule_id>.
terraform import hostup_vps_backup_schedule.nightly vps_01hxa3b4c5d6e7f8g9h0j1k2m3/bks_01hxa3b4c5d6e7f8g9h0j1k2m3
# Or by the VPS id alone, for the VPS's active schedule.
terraform import hostup_vps_backup_schedule.nightly vps_01hxa3b4c5d6e7f8g9h0j1k2m3
