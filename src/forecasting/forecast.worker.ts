import { parentPort } from 'node:worker_threads';
import { evaluate, forecast, train, type SeriesWindow, type TrainRequest } from './pipeline.js';
import type { LearnedArtefact } from './model.js';

/** A worker thread of the forecast pool: training and inference off the main event loop. */
export type WorkerTask =
  | { kind: 'train'; request: TrainRequest }
  | { kind: 'forecast'; artefact: LearnedArtefact; window: SeriesWindow }
  | { kind: 'evaluate'; artefact: LearnedArtefact; window: SeriesWindow; from: number };

export type WorkerReply =
  { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

parentPort?.on('message', (msg: { id: number; task: WorkerTask }) => {
  let reply: WorkerReply;
  try {
    const task = msg.task;
    const result =
      task.kind === 'train'
        ? train(task.request)
        : task.kind === 'forecast'
          ? forecast(task.artefact, task.window)
          : evaluate(task.artefact, task.window, task.from);
    reply = { id: msg.id, ok: true, result };
  } catch (err) {
    reply = { id: msg.id, ok: false, error: err instanceof Error ? err.message : String(err) };
  }
  parentPort!.postMessage(reply);
});
parentPort?.postMessage({ ready: true });
