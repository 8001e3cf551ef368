/**
 * Microphone recording for one answer: getUserMedia + MediaRecorder, with a level meter and an
 * automatic stop once the person has spoken and then stayed quiet (end of speech), so a phone user
 * only has to tap once. A manual stop is always possible; a hard limit stops runaway recordings.
 *
 *   const rec = new AnswerRecorder({ onLevel: (rms) => ..., onStop: (blob) => ... });
 *   await rec.start();   // asks for the microphone (rejects with a readable Error)
 *   rec.stop();          // or wait for the automatic stop
 */

const POLL_MS = 50;
const SPEECH_RMS = 0.02;       // above this the frame counts as speech
const QUIET_RMS = 0.01;        // below this the frame counts as quiet
const END_QUIET_MS = 1200;     // quiet this long after speech = end of the answer
const NO_SPEECH_MS = 8000;     // nothing said at all: stop and let the server call it "no answer"
const MAX_MS = 20000;          // never record longer than this

export function microphoneError(err) {
  const name = err && err.name;
  if (name === "NotAllowedError" || name === "SecurityError")
    return "O acesso ao microfone foi negado. Permita o microfone no navegador ou responda tocando nas opções.";
  if (name === "NotFoundError" || name === "OverconstrainedError")
    return "Nenhum microfone foi encontrado. Responda tocando nas opções.";
  if (!navigator.mediaDevices || !window.MediaRecorder)
    return "Este navegador não grava áudio. Responda tocando nas opções.";
  return "Não foi possível usar o microfone. Tente de novo ou responda tocando nas opções.";
}

export function canRecord() {
  return !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia && window.MediaRecorder);
}

export class AnswerRecorder {
  constructor({ onLevel = () => {}, onStop = () => {} } = {}) {
    this.onLevel = onLevel;
    this.onStop = onStop;
    this.recording = false;
  }

  async start() {
    if (!canRecord()) throw new Error(microphoneError(null));
    try {
      // No browser processing: noise suppression and gain control treat steady sounds as noise and
      // pump the level, which the speech model never heard in training; the prompt is stopped before
      // recording starts, so there is no echo to cancel.
      this.stream = await navigator.mediaDevices.getUserMedia({
        audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
      });
    } catch (err) {
      throw new Error(microphoneError(err));
    }
    this.chunks = [];
    this.recorder = new MediaRecorder(this.stream);
    this.recorder.ondataavailable = (e) => { if (e.data && e.data.size) this.chunks.push(e.data); };
    this.recorder.onstop = () => this._finish();
    this._watchLevel();
    this.recorder.start();
    this.recording = true;
  }

  /** Sample the input level every POLL_MS and stop on end of speech, long silence or the hard limit. */
  _watchLevel() {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    this.ctx = new Ctx();
    const analyser = this.ctx.createAnalyser();
    analyser.fftSize = 1024;
    this.ctx.createMediaStreamSource(this.stream).connect(analyser);
    const frame = new Float32Array(analyser.fftSize);
    const started = Date.now();
    let heardSpeech = false;
    let quietSince = null;
    this.timer = setInterval(() => {
      analyser.getFloatTimeDomainData(frame);
      let sum = 0;
      for (let i = 0; i < frame.length; i++) sum += frame[i] * frame[i];
      const rms = Math.sqrt(sum / frame.length);
      this.onLevel(rms);
      const now = Date.now();
      if (rms > SPEECH_RMS) { heardSpeech = true; quietSince = null; }
      else if (rms < QUIET_RMS && quietSince === null) quietSince = now;
      const endOfSpeech = heardSpeech && quietSince !== null && now - quietSince > END_QUIET_MS;
      const nothingSaid = !heardSpeech && now - started > NO_SPEECH_MS;
      if (endOfSpeech || nothingSaid || now - started > MAX_MS) this.stop();
    }, POLL_MS);
  }

  stop() {
    if (!this.recording) return;
    this.recording = false;
    clearInterval(this.timer);
    if (this.recorder && this.recorder.state !== "inactive") this.recorder.stop();
  }

  /** Release the microphone and hand the recording (one Blob) to onStop. */
  _finish() {
    if (this.stream) this.stream.getTracks().forEach((t) => t.stop());
    if (this.ctx) this.ctx.close();
    const type = (this.recorder && this.recorder.mimeType) || "audio/webm";
    this.onStop(new Blob(this.chunks, { type }));
  }

  /** Stop without delivering anything (leaving the screen). */
  cancel() {
    this.onStop = () => {};
    this.stop();
  }
}
