/** NATS headers of framecast's bus messages (docs/PROTOCOL.md, "Bus"). */

/** Header of a frame sent in parts: `index/count` (1-based), with the frame's seq in Framecast-Seq. */
export const PART_HEADER = 'Framecast-Part';
export const SEQ_HEADER = 'Framecast-Seq';
/** Header of a part: the publishing origin process (its announcement's `instance`). */
export const ORIGIN_HEADER = 'Framecast-Origin';
