"""The faster-whisper engine: Whisper models on CTranslate2, sequential or batched, in bounded memory."""
