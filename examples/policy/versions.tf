terraform {
  required_version = ">= 1.0"

  required_providers {
    hostup = {
      source = "hostup/hostup"
    }
  }
}

# The API key and endpoint come from the environment: HOSTUP_API_KEY (with the
# scopes read:vm and write:vm) and HOSTUP_ENDPOINT (default https://cloud.hostup.se).
provider "hostup" {}
