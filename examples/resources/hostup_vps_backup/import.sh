# A backup is imported by the VPS id and the HostUp job id that ran it: <vps_id>/<job_id>.
terraform import hostup_vps_backup.before_upgrade vps_01hxa3b4c5d6e7f8g9h0j1k2m3/job_01hxb2c3d4e5f6g7h8j9k0m1n2
