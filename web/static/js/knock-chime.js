// The knock sound: a short two-note chime synthesised with WebAudio (no audio file).

export class KnockChime {
  #lastPlayed = -Infinity;

  /** Play the chime on ctx (an AudioContext created on a user gesture). Rate-limited. */
  play(ctx) {
    if (!ctx) return false;
    const now = performance.now();
    if (now - this.#lastPlayed < 1500) return false; // a burst of knocks rings once
    this.#lastPlayed = now;
    if (ctx.state === "suspended") ctx.resume().catch(() => {});
    const start = ctx.currentTime + 0.02;
    const notes = [[880, 0], [1318.5, 0.16]];
    for (const [freq, offset] of notes) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = "sine";
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, start + offset);
      gain.gain.exponentialRampToValueAtTime(0.25, start + offset + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + offset + 0.45);
      osc.connect(gain).connect(ctx.destination);
      osc.start(start + offset);
      osc.stop(start + offset + 0.5);
    }
    return true;
  }
}
