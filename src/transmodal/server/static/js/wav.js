/**
 * Turn any recording the browser can decode (MediaRecorder's webm/opus, ogg, mp4, wav) into a
 * 16 kHz, mono, 16-bit PCM WAV file — the format the server's speech model reads.
 *
 *   decode   AudioContext.decodeAudioData(bytes)            -> AudioBuffer at the device rate
 *   resample OfflineAudioContext(1 channel, 16 kHz)         -> mono Float32 samples at 16 kHz
 *            (a 1-channel destination down-mixes: the mean of the input channels)
 *   encode   44-byte RIFF/WAVE header + little-endian int16 samples, written by hand below.
 */

export const TARGET_RATE = 16000;

/** Clamp float samples in [-1, 1] and write them as little-endian int16 after a 44-byte WAV header. */
export function encodeWav(samples, sampleRate = TARGET_RATE) {
  const dataBytes = samples.length * 2;
  const buffer = new ArrayBuffer(44 + dataBytes);
  const view = new DataView(buffer);
  const ascii = (offset, text) => {
    for (let i = 0; i < text.length; i++) view.setUint8(offset + i, text.charCodeAt(i));
  };
  ascii(0, "RIFF");
  view.setUint32(4, 36 + dataBytes, true);   // size of everything after this field
  ascii(8, "WAVE");
  ascii(12, "fmt ");
  view.setUint32(16, 16, true);               // fmt chunk size for PCM
  view.setUint16(20, 1, true);                // format 1 = integer PCM
  view.setUint16(22, 1, true);                // channels
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * 2, true);   // byte rate = rate * channels * 2 bytes
  view.setUint16(32, 2, true);                // block align = channels * 2 bytes
  view.setUint16(34, 16, true);               // bits per sample
  ascii(36, "data");
  view.setUint32(40, dataBytes, true);
  let offset = 44;
  for (let i = 0; i < samples.length; i++, offset += 2) {
    const s = Math.max(-1, Math.min(1, samples[i] || 0));
    view.setInt16(offset, s < 0 ? Math.round(s * 0x8000) : Math.round(s * 0x7fff), true);
  }
  return new Blob([buffer], { type: "audio/wav" });
}

/** Resample an AudioBuffer (any rate, any channel count) to mono Float32 at `rate` Hz. */
export async function toMono(audioBuffer, rate = TARGET_RATE) {
  const frames = Math.max(1, Math.ceil(audioBuffer.duration * rate));
  const offline = new OfflineAudioContext(1, frames, rate);
  const source = offline.createBufferSource();
  source.buffer = audioBuffer;
  source.connect(offline.destination);
  source.start(0);
  const rendered = await offline.startRendering();
  return rendered.getChannelData(0);
}

/** Decode a recorded Blob and return it as a 16 kHz mono 16-bit WAV Blob (throws a readable Error). */
export async function recordingToWav(blob) {
  if (!blob || blob.size === 0) throw new Error("A gravação ficou vazia. Tente de novo.");
  const bytes = await blob.arrayBuffer();
  const Ctx = window.AudioContext || window.webkitAudioContext;
  const ctx = new Ctx();
  let decoded;
  try {
    decoded = await ctx.decodeAudioData(bytes);
  } catch (err) {
    throw new Error("Não consegui ler a gravação do microfone. Tente de novo ou responda tocando.");
  } finally {
    ctx.close();
  }
  return encodeWav(await toMono(decoded), TARGET_RATE);
}
