/** The run's findings: one row per (workload, target), holding each repetition's measurement or the error that stopped it. */
import type { Measurement, TargetId } from './targets.js';

export type Group = 'PUT' | 'GET' | 'Range GET' | 'Metadata' | 'Multipart' | 'Memory' | 'Workers';

export interface Row {
  group: Group;
  workload: string;
  target: TargetId;
  /** Concurrency (in-flight requests) of the workload. */
  concurrency: number;
  reps: Measurement[];
  errors: string[];
}

export class Results {
  readonly rows: Row[] = [];

  #row(group: Group, workload: string, target: TargetId, concurrency: number): Row {
    let row = this.rows.find((r) => r.workload === workload && r.target === target);
    if (!row) {
      row = { group, workload, target, concurrency, reps: [], errors: [] };
      this.rows.push(row);
    }
    return row;
  }

  add(group: Group, workload: string, target: TargetId, concurrency: number, outcome: Measurement | Error): void {
    const row = this.#row(group, workload, target, concurrency);
    if (outcome instanceof Error) row.errors.push(outcome.message);
    else row.reps.push(outcome);
  }

  get(workload: string, target: TargetId): Row | undefined {
    return this.rows.find((r) => r.workload === workload && r.target === target);
  }

  get failed(): boolean {
    return this.rows.some((r) => r.errors.length > 0);
  }
}
