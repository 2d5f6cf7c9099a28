"""Channels a campaign hands contacts to: SMS over SMPP, the outbound call centre, touchpoints."""
