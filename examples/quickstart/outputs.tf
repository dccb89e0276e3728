output "vps_id" {
  description = "The id of the VPS found by name."
  value       = data.hostup_vps.app.id
}

output "vps_primary_ip" {
  description = "Its primary IP address."
  value       = data.hostup_vps.app.primary_ip
}

output "snapshots" {
  description = "Names of the VPS's snapshots."
  value       = [for s in data.hostup_vps_snapshots.app.snapshots : s.name]
}

output "snapshot_slots" {
  description = "Snapshot slots used and available."
  value       = "${data.hostup_vps_snapshots.app.used_snapshots} of ${data.hostup_vps_snapshots.app.total_snapshots} used"
}

output "can_restore" {
  description = "Whether HostUp allowed a restore when the plan was made (allowed, reason, code)."
  value       = data.hostup_vps_snapshots.app.can_restore
}

output "backup_job_id" {
  description = "The HostUp job that ran the backup."
  value       = hostup_vps_backup.before_upgrade.job_id
}

output "backup_status" {
  description = "The backup job's final status."
  value       = hostup_vps_backup.before_upgrade.status
}

output "restore_job_id" {
  description = "The HostUp job that ran the restore."
  value       = hostup_vps_snapshot_restore.rollback.job_id
}

output "restore_status" {
  description = "The restore job's final status."
  value       = hostup_vps_snapshot_restore.rollback.status
}

output "restore_completed_at" {
  description = "When the restore finished."
  value       = hostup_vps_snapshot_restore.rollback.completed_at
}
