variable "vps_name" {
  description = "Exact name of the VPS to work on."
  type        = string
  default     = "app-01"
}

variable "release" {
  description = "The release about to be deployed. A new value runs a new backup."
  type        = string
  default     = "2026.11.1"
}

variable "rollback_snapshot" {
  description = "Name of the snapshot to roll the VPS back to."
  type        = string
  default     = "before-upgrade"
}
