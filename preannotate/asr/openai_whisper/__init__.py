"""The openai-whisper engine: Whisper's own PyTorch decoding, on any weights `weights` resolves."""
