"""Bundled sample deployments (ARM-native snapshots) modelled on the Azure ML FL sample's reference sandboxes."""
