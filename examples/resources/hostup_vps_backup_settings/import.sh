# A VPS has one set of backup settings: they are imported by the VPS id.
terraform import hostup_vps_backup_settings.web vps_01hxa3b4c5d6e7f8g9h0j1k2m3
