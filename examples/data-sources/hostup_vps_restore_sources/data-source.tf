# Whose backups can be restored onto this VPS: the account's other VPSs, and the
# retained backups of terminated ones.
data "hostup_vps_restore_sources" "web" {
  vps_id = "vps_01hxa3b4c5d6e7f8g9h0j1k2m3"
}

output "restorable_backups" {
  value = {
    for s in data.hostup_vps_restore_sources.web.sources : s.id => [for b in s.backups : b.id]
  }
}
