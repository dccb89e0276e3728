# A backup restore is imported by the VPS id and the id of its restore job: <vps_id>/<job_id>.
terraform import hostup_vps_backup_restore.rollback vps_01hxa3b4c5d6e7f8g9h0j1k2m3/job_01hxa3b4c5d6e7f8g9h0j1k2m3
