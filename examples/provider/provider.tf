terraform {
  required_providers {
    hostup = {
      source = "hostup/hostup"
    }
  }
}

variable "hostup_api_key" {
  description = "HostUp API key with the read:vm and backup:vm scopes."
  type        = string
  sensitive   = true
}

provider "hostup" {
  # Optional: falls back to the HOSTUP_API_KEY environment variable.
  api_key = var.hostup_api_key

  # Optional: falls back to HOSTUP_ENDPOINT, then to https://cloud.hostup.se.
  # Plain http:// is accepted only for loopback hosts, e.g. a local hostup-sim:
  # endpoint = "http://127.0.0.1:8080"
  endpoint = "https://cloud.hostup.se"
}
