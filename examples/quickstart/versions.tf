terraform {
  required_version = ">= 1.0"

  required_providers {
    hostup = {
      source = "hostup/hostup"
    }
  }
}

# The API key and endpoint come from the environment: HOSTUP_API_KEY and
# HOSTUP_ENDPOINT (default https://cloud.hostup.se). `./scripts/demo` points
# them at a local hostup-sim.
provider "hostup" {}
