/** A calm notice for a new contact: the title bar blinks a count while the tab is
 * hidden, and a short soft tone plays (once the agent has interacted with the page). */

export class Notifier {
  private unseen = 0;
  private readonly baseTitle: string;
  private audio: AudioContext | null = null;
  private timer: number | undefined;
  private flip = false;

  constructor(private readonly doc: Document = document) {
    this.baseTitle = doc.title;
    doc.addEventListener("visibilitychange", () => {
      if (!doc.hidden) this.clear();
    });
    const unlock = () => {
      try {
        this.audio = this.audio || new AudioContext();
      } catch {
        this.audio = null;
      }
    };
    doc.addEventListener("pointerdown", unlock, { once: true });
    doc.addEventListener("keydown", unlock, { once: true });
  }

  /** Announces a new contact in the title bar (and with a tone). */
  newContact(label: string): void {
    this.unseen += 1;
    this.doc.title = `(${this.unseen}) New contact · ${this.baseTitle}`;
    this.doc.documentElement.dataset.notice = label;
    this.tone();
    if (this.doc.hidden && this.timer === undefined) {
      this.timer = window.setInterval(() => {
        this.flip = !this.flip;
        this.doc.title = this.flip ? `(${this.unseen}) ${label}` : `(${this.unseen}) New contact · ${this.baseTitle}`;
      }, 1500);
    }
  }

  clear(): void {
    this.unseen = 0;
    window.clearInterval(this.timer);
    this.timer = undefined;
    this.doc.title = this.baseTitle;
  }

  private tone(): void {
    const audio = this.audio;
    if (!audio) return;
    const oscillator = audio.createOscillator();
    const gain = audio.createGain();
    oscillator.type = "sine";
    oscillator.frequency.value = 660;
    gain.gain.setValueAtTime(0.0001, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.08, audio.currentTime + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + 0.35);
    oscillator.connect(gain).connect(audio.destination);
    oscillator.start();
    oscillator.stop(audio.currentTime + 0.4);
  }
}
