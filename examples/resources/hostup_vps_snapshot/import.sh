# A snapshot is imported by the VPS id and the snapshot name: <vps_id>/<name>.
terraform import hostup_vps_snapshot.before_upgrade vps_01hxa3b4c5d6e7f8g9h0j1k2m3/before-upgrade-2026-11
