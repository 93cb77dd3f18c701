/**
 * The DirSync control (LDAP_SERVER_DIRSYNC_OID 1.2.840.113556.1.4.841) for ldapts (pipeline-and-delta-facts
 * §1.1, §1.4; entra-connect-defaults §4.3). Request and response value: SEQUENCE { Flags INTEGER, MaxBytes
 * INTEGER, Cookie OCTET STRING }. ldapts hands the response control to the instance sent with the request
 * (same OID), so one instance carries the request out and the reply back: `moreData` and `cookie`.
 */
import { Ber, BerWriter, Control } from 'ldapts';
import type { BerReader } from 'ldapts';

export const DIRSYNC_OID = '1.2.840.113556.1.4.841';
/** LDAP_SERVER_SHOW_DELETED_OID: tombstones are returned too. */
export const SHOW_DELETED_OID = '1.2.840.113556.1.4.417';

/** Only objects and attributes the caller may read (WS2003+); Samba ≥ 4.20 behaves so regardless. */
export const DIRSYNC_OBJECT_SECURITY = 0x00000001;
/** Parents before children. */
export const DIRSYNC_ANCESTORS_FIRST_ORDER = 0x00000800;
/** Only the changed values of linked multi-valued attributes (member;range=1-1 added, ;range=0-0 removed). */
export const DIRSYNC_INCREMENTAL_VALUES = 0x80000000;

export class DirSyncControl extends Control {
  /** From the response: the server has more for this cookie (search again at once). */
  moreData = false;
  /** The cookie to send next (from the response once one came). */
  cookie: Buffer;
  /** Whether a response control was parsed into this instance. */
  answered = false;

  constructor(
    readonly flags: number,
    cookie: Buffer = Buffer.alloc(0),
    readonly maxBytes = 0x100000,
  ) {
    super(DIRSYNC_OID, { critical: true });
    this.cookie = cookie;
  }

  override writeControl(writer: BerWriter): void {
    const w = new BerWriter();
    w.startSequence();
    // BerWriter.writeInt is 32-bit signed: 0x80000801 goes out as the 4 bytes 80 00 08 01, as AD expects.
    w.writeInt(this.flags | 0);
    w.writeInt(this.maxBytes);
    if (this.cookie.length > 0) w.writeBuffer(this.cookie, Ber.OctetString);
    else w.writeString('');
    w.endSequence();
    writer.writeBuffer(w.buffer, Ber.OctetString);
  }

  /** Tolerant: a throw here would reject the request and drop the rest of the network chunk (facts §1.4). */
  override parseControl(reader: BerReader): void {
    try {
      if (reader.readSequence() === null) return;
      const flags = reader.readInt() ?? 0;
      reader.readInt();
      const cookie = reader.readString(Ber.OctetString, true);
      this.moreData = flags !== 0;
      if (cookie !== null && cookie !== undefined && cookie.length > 0) this.cookie = Buffer.from(cookie);
      this.answered = true;
    } catch {
      this.answered = false;
    }
  }
}
