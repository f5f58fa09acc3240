"""Executors that run the transcription stage elsewhere than this process (Ray: `ray_data`)."""
