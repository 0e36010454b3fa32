/**
 * The scripted sessions the benchmarks play. The 50-step tool loop is the shipped `tool-loop`
 * scenario (one Bash call per model call) stretched to 50 calls; the relay scenario adds streamed
 * text to every step so that a session yields many frames of every kind (partials, text, tool
 * calls, tool results).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadScenarioFile, type Scenario, type Step } from '../src/testing/scripted-model/index.js';

export const TOOL_LOOP = 'bench-tool-loop-50';
export const RELAY = 'bench-relay';
export const RELAY_BURST = 'bench-relay-burst';
/**
 * The relay scenario's pace: an SSE event every 20 ms, about 200 tokens/s of text at 16
 * characters a delta (a real model streams slower). Unpaced, the whole answer arrives in one
 * read and the figure measures five processes queueing for two cores, not the relay.
 */
export const RELAY_CHUNK_DELAY_MS = 20;
export const SHORT = 'tool-loop';

const SHIPPED = fileURLToPath(new URL('../../scenarios/tool-loop.json', import.meta.url));

/** A prompt that selects `scenario` on the scripted model (the marker is part of its format). */
export function promptFor(scenario: string): string {
  return `[[scenario:${scenario}]] Run the loop and report the last output.`;
}

function toolStep(): Step {
  const shipped = loadScenarioFile(SHIPPED);
  const step = shipped.turns[0]?.steps[0];
  if (!step?.tools?.length)
    throw new Error(`${path.basename(SHIPPED)} no longer starts with a tool step`);
  return step;
}

export function benchScenarios(steps = 50, relaySteps = 20): Scenario[] {
  const tool = toolStep();
  const prose =
    'Checking the counter before the next call; the output should keep counting up. '.repeat(3);
  const relay = (name: string, n: number, chunkDelayMs?: number): Scenario => ({
    name,
    description: `${n} steps of streamed text and a Bash call, then a final answer${chunkDelayMs ? `, an SSE event every ${chunkDelayMs} ms` : ', unpaced'}.`,
    turns: [
      {
        steps: [
          {
            ...tool,
            text: `Step {{step}}. ${prose}`,
            chunkSize: 16,
            repeat: n,
            ...(chunkDelayMs ? { chunkDelayMs } : {}),
          },
          {
            text: `Done: {{lastToolResult}}. ${prose}`,
            chunkSize: 16,
            ...(chunkDelayMs ? { chunkDelayMs } : {}),
          },
        ],
      },
    ],
  });
  return [
    {
      name: TOOL_LOOP,
      description: `${steps} Bash calls in a row (one per model call), then a final answer.`,
      turns: [
        {
          steps: [
            { ...tool, repeat: steps },
            { text: `Finished ${steps} tool calls; the last one printed: {{lastToolResult}}` },
          ],
        },
      ],
    },
    relay(RELAY, relaySteps, RELAY_CHUNK_DELAY_MS),
    relay(RELAY_BURST, steps),
  ];
}
