data "hostup_vps_backups" "app" {
  vps_id = "vps_01hxa3b4c5d6e7f8g9h0j1k2m3"
}

output "backup_ids" {
  value = [for b in data.hostup_vps_backups.app.backups : b.id]
}

# used, limit and remaining (limit and remaining are null on unlimited plans).
output "backup_quota" {
  value = data.hostup_vps_backups.app.quota_info
}

# Whether HostUp would queue a new backup right now, and if not why.
output "can_create_backup" {
  value = data.hostup_vps_backups.app.can_create_backup
}
