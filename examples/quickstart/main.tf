# Quickstart: the "back up, upgrade, roll back" workflow on one VPS.
#
#   1. look the VPS up by name,
#   2. list its snapshots, slots and whether a restore is allowed,
#   3. queue an offsite backup and wait until it has completed,
#   4. roll the VPS back to a snapshot and wait until that has completed.
#
# Step 4 REPLACES THE VPS DISK with the snapshot. Against a real account, apply
# this only to a VPS you mean to roll back; `./scripts/demo` runs it against a
# local hostup-sim instead.

data "hostup_vps" "app" {
  name = var.vps_name
}

data "hostup_vps_snapshots" "app" {
  vps_id = data.hostup_vps.app.id
}

resource "hostup_vps_backup" "before_upgrade" {
  vps_id = data.hostup_vps.app.id
  note   = "Before upgrade to ${var.release}"

  # A new release runs a new backup; nothing else ever re-runs it.
  triggers = {
    release = var.release
  }

  timeouts {
    create = "60m"
  }
}

resource "hostup_vps_snapshot_restore" "rollback" {
  vps_id        = data.hostup_vps.app.id
  snapshot_name = var.rollback_snapshot

  timeouts {
    create = "30m"
  }

  # Roll back only once today's data is safe in the backup.
  depends_on = [hostup_vps_backup.before_upgrade]
}
