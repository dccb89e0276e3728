# Terraform 1.14 and later. Queue an offsite backup of the VPS, and wait until
# HostUp has completed it, each time before the snapshot schedule below changes.
# The backup stays on HostUp; nothing is kept in the state.
action "hostup_vps_backup" "before_change" {
  config {
    vps_id = "vps_01hxa3b4c5d6e7f8g9h0j1k2m3"
    note   = "Before the snapshot schedule changes"
  }
}

resource "hostup_vps_snapshot_schedule" "web" {
  vps_id         = "vps_01hxa3b4c5d6e7f8g9h0j1k2m3"
  interval_hours = 12

  lifecycle {
    action_trigger {
      events  = [before_update]
      actions = [action.hostup_vps_backup.before_change]
    }
  }
}

# The same action also runs on demand:
#   terraform apply -invoke=action.hostup_vps_backup.before_change
