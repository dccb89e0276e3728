# Look a VPS up by its exact name (case-insensitive) to get the id the other
# HostUp data sources and resources take.
data "hostup_vps" "app" {
  name = "app-01"
}

# Or look it up by id.
data "hostup_vps" "by_id" {
  id = "vps_01hxa3b4c5d6e7f8g9h0j1k2m3"
}

output "app_vps_id" {
  value = data.hostup_vps.app.id
}

output "app_primary_ip" {
  value = data.hostup_vps.app.primary_ip
}
