/** The relay's states. The allowed transitions are data, so a wrong move fails naming both states. */
export type RelayState = 'starting' | 'streaming' | 'retrying' | 'refusing' | 'fenced' | 'stopping' | 'stopped';

const TRANSITIONS: Record<RelayState, RelayState[]> = {
  starting: ['streaming', 'retrying', 'refusing', 'fenced', 'stopping', 'stopped'],
  streaming: ['retrying', 'refusing', 'fenced', 'stopping', 'stopped'],
  retrying: ['starting', 'stopping', 'stopped'],
  refusing: ['starting', 'stopping', 'stopped'],
  fenced: ['starting', 'stopping', 'stopped'],
  stopping: ['stopped'],
  stopped: [],
};

export const RELAY_STATES = Object.keys(TRANSITIONS) as RelayState[];

export class RelayStateMachine {
  private current: RelayState = 'starting';
  private readonly listeners: ((state: RelayState) => void)[] = [];

  get state(): RelayState {
    return this.current;
  }

  onChange(listener: (state: RelayState) => void): void {
    this.listeners.push(listener);
  }

  moveTo(next: RelayState): void {
    if (next === this.current) return;
    if (!TRANSITIONS[this.current].includes(next)) {
      throw new Error(`relay cannot move from state ${this.current} to ${next}`);
    }
    this.current = next;
    for (const listener of this.listeners) listener(next);
  }
}
