/**
 * Writes the memory bomb of issue 22 to argv[2]: a valid segment (layout argv[3] as JSON) of 300 rows
 * whose payloads are 2 MiB each (600 MiB decoded), zstd-compressed to about 100 KB. Run in a child
 * process: encoding it takes the 600 MiB that decoding it must never take.
 */
import { writeFileSync } from 'node:fs';
import type { SegmentLayout } from '../../src/format/segment-codec.js';
import { segmentWith } from './forge.js';

const [file, layoutJson] = process.argv.slice(2) as [string, string];
const layout = JSON.parse(layoutJson) as SegmentLayout;
const payload = `{"t":"${'a'.repeat(2 * 1024 * 1024 - 8)}"}`;
writeFileSync(file, segmentWith(layout, new Array<string>(300).fill(payload)));
