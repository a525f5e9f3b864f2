//! The ATAPI CD-ROM on an ATA channel: its ATA commands (PACKET, IDENTIFY PACKET DEVICE,
//! the abort-with-signature answer to IDENTIFY DEVICE) and the SCSI/MMC packet commands it
//! implements over a read-only ISO image of 2048-byte sectors.
//!
//! After PACKET the drive asks for 12 command bytes (interrupt reason C/D = 1). A data
//! response moves in chunks of at most the byte count the host put in LBA mid/high,
//! each announced with DRQ, the count in those registers and an interrupt (reason I/O
//! = 1); the end of the command sets reason I/O + C/D with an interrupt. With feature
//! bit 0 (DMA) the response goes through the bus master instead. Failures end with
//! CHECK CONDITION: ERR in the status, the sense key in the error register's high
//! nibble, and the sense data kept for REQUEST SENSE.

use crate::ata::{cmd, AtaChannel, DmaJob, Xfer, ATAPI_SIGNATURE, ERR_ABRT, ST_DRDY, ST_DRQ, ST_DSC, ST_ERR};
use crate::ata_identify::Sense;
use crate::block::CD_SECTOR_SIZE;
use crate::IrqLine;

/// Length of a command packet.
pub const PACKET_LEN: usize = 12;
/// Interrupt reason: command (1) or data (0).
const IR_COD: u8 = 1;
/// Interrupt reason: to the host (1) or to the device (0).
const IR_IO: u8 = 2;
/// PACKET feature bit: data by DMA.
const FEATURE_DMA: u8 = 1;
/// The largest DRQ chunk.
const MAX_CHUNK: u16 = 0xFFFE;
/// Sectors buffered at once for a PIO read.
const READ_BUFFER_SECTORS: u32 = 16;

/// Sense key: not ready.
pub const SENSE_NOT_READY: u8 = 0x02;
/// Sense key: illegal request.
pub const SENSE_ILLEGAL_REQUEST: u8 = 0x05;
/// ASC: invalid command operation code.
const ASC_INVALID_OPCODE: u8 = 0x20;
/// ASC: logical block address out of range.
const ASC_LBA_OUT_OF_RANGE: u8 = 0x21;
/// ASC: invalid field in CDB.
const ASC_INVALID_FIELD: u8 = 0x24;

/// SCSI/MMC packet opcodes.
pub mod op {
    /// TEST UNIT READY.
    pub const TEST_UNIT_READY: u8 = 0x00;
    /// REQUEST SENSE.
    pub const REQUEST_SENSE: u8 = 0x03;
    /// INQUIRY.
    pub const INQUIRY: u8 = 0x12;
    /// MODE SENSE(6).
    pub const MODE_SENSE_6: u8 = 0x1A;
    /// START STOP UNIT.
    pub const START_STOP_UNIT: u8 = 0x1B;
    /// PREVENT ALLOW MEDIUM REMOVAL.
    pub const PREVENT_ALLOW: u8 = 0x1E;
    /// READ CAPACITY.
    pub const READ_CAPACITY: u8 = 0x25;
    /// READ(10).
    pub const READ_10: u8 = 0x28;
    /// SEEK(10).
    pub const SEEK_10: u8 = 0x2B;
    /// READ TOC/PMA/ATIP.
    pub const READ_TOC: u8 = 0x43;
    /// GET CONFIGURATION.
    pub const GET_CONFIGURATION: u8 = 0x46;
    /// GET EVENT STATUS NOTIFICATION.
    pub const GET_EVENT_STATUS: u8 = 0x4A;
    /// MODE SENSE(10).
    pub const MODE_SENSE_10: u8 = 0x5A;
    /// READ(12).
    pub const READ_12: u8 = 0xA8;
}

/// An ATA command written to the CD-ROM.
pub(crate) fn command<I: IrqLine>(ch: &mut AtaChannel<I>, opcode: u8) {
    match opcode {
        cmd::PACKET => {
            let limit = match u16::from_le_bytes([ch.tf.lba_mid, ch.tf.lba_high]) {
                0 => MAX_CHUNK,
                n => (n & !1).max(2),
            };
            let dma = ch.tf.feature & FEATURE_DMA != 0;
            ch.buf = vec![0; PACKET_LEN];
            ch.pos = 0;
            ch.chunk_end = PACKET_LEN;
            ch.xfer = Xfer::Packet { dma, limit };
            ch.tf.nsector = IR_COD;
            if let Some(d) = ch.cur() {
                d.status = ST_DRDY | ST_DSC | ST_DRQ;
            }
        }
        cmd::IDENTIFY_PACKET => {
            let data = ch.cur().map(|d| d.identify_packet()).unwrap_or_default();
            ch.start_data_in(data);
        }
        cmd::DEVICE_RESET => {
            ch.tf.nsector = 1;
            ch.tf.lba_low = 1;
            (ch.tf.lba_mid, ch.tf.lba_high) = ATAPI_SIGNATURE;
            ch.xfer = Xfer::Idle;
            if let Some(d) = ch.cur() {
                d.status = 0;
                d.error = 1;
            }
        }
        cmd::EXECUTE_DIAGNOSTIC => {
            ch.reset();
            ch.set_intrq(true);
        }
        cmd::SET_FEATURES | cmd::CHECK_POWER_MODE => {
            // The disk's handling fits the CD-ROM too.
            if opcode == cmd::CHECK_POWER_MODE {
                ch.tf.nsector = 0xFF;
            }
            ch.finish_ok();
        }
        _ => {
            // IDENTIFY DEVICE and every disk command: abort, leaving the signature.
            (ch.tf.nsector, ch.tf.lba_low) = (1, 1);
            (ch.tf.lba_mid, ch.tf.lba_high) = ATAPI_SIGNATURE;
            ch.finish_error(ERR_ABRT);
        }
    }
}

/// The 12 packet bytes arrived: run the command.
pub(crate) fn packet_received<I: IrqLine>(ch: &mut AtaChannel<I>, dma: bool, limit: u16) {
    let mut cdb = [0u8; PACKET_LEN];
    cdb.copy_from_slice(&ch.buf[..PACKET_LEN]);
    ch.xfer = Xfer::Idle;
    match run_packet(ch, &cdb) {
        Err(sense) => check_condition(ch, sense),
        Ok(Response::None) => complete(ch),
        Ok(Response::Data(mut data, alloc)) => {
            data.truncate(alloc);
            if data.is_empty() {
                complete(ch)
            } else if dma {
                start_dma(ch, DmaJob::AtapiData(data))
            } else {
                ch.buf = data;
                ch.pos = 0;
                ch.xfer = Xfer::AtapiIn { next: 0, left: 0, limit };
                next_chunk(ch);
            }
        }
        Ok(Response::Read { lba, count }) if dma => start_dma(ch, DmaJob::AtapiRead { lba, count }),
        Ok(Response::Read { lba, count }) => {
            ch.buf.clear();
            ch.pos = 0;
            ch.xfer = Xfer::AtapiIn { next: lba, left: count, limit };
            next_chunk(ch);
        }
    }
}

/// The host took a whole chunk: announce the next or complete the command.
pub(crate) fn chunk_done<I: IrqLine>(ch: &mut AtaChannel<I>) {
    next_chunk(ch)
}

fn next_chunk<I: IrqLine>(ch: &mut AtaChannel<I>) {
    let Xfer::AtapiIn { next, left, limit } = ch.xfer else { return };
    if ch.pos >= ch.buf.len() {
        if left == 0 {
            return complete(ch);
        }
        let n = left.min(READ_BUFFER_SECTORS).min((limit as u32 / CD_SECTOR_SIZE as u32).max(1));
        let mut data = vec![0u8; n as usize * CD_SECTOR_SIZE as usize];
        let ok = ch.cur().is_some_and(|d| d.image.read_at(next * CD_SECTOR_SIZE, &mut data).is_ok());
        if !ok {
            return check_condition(ch, Sense { key: 0x03, asc: 0x11, ascq: 0 });
            // medium error, unrecovered read
        }
        ch.buf = data;
        ch.pos = 0;
        ch.xfer = Xfer::AtapiIn { next: next + n as u64, left: left - n, limit };
    }
    let size = (ch.buf.len() - ch.pos).min(limit as usize);
    ch.chunk_end = ch.pos + size;
    ch.tf.lba_mid = size as u8;
    ch.tf.lba_high = (size >> 8) as u8;
    ch.tf.nsector = IR_IO;
    if let Some(d) = ch.cur() {
        d.status = ST_DRDY | ST_DSC | ST_DRQ;
    }
    ch.set_intrq(true);
}

fn start_dma<I: IrqLine>(ch: &mut AtaChannel<I>, job: DmaJob) {
    ch.dma = Some(job);
    ch.tf.nsector = IR_IO;
    if let Some(d) = ch.cur() {
        d.status = ST_DRDY | ST_DSC | ST_DRQ;
    }
}

/// Ends a packet command successfully.
pub(crate) fn complete<I: IrqLine>(ch: &mut AtaChannel<I>) {
    ch.tf.nsector = IR_IO | IR_COD;
    if let Some(d) = ch.cur() {
        d.sense = Sense::default();
    }
    ch.finish_ok();
}

/// Ends a packet command with CHECK CONDITION and `sense`.
pub(crate) fn check_condition<I: IrqLine>(ch: &mut AtaChannel<I>, sense: Sense) {
    ch.tf.nsector = IR_IO | IR_COD;
    ch.finish_error(sense.key << 4);
    if let Some(d) = ch.cur() {
        d.sense = sense;
        d.status = ST_DRDY | ST_ERR;
    }
}

enum Response {
    None,
    /// Response bytes and the allocation length that caps them.
    Data(Vec<u8>, usize),
    Read {
        lba: u64,
        count: u32,
    },
}

fn illegal(asc: u8) -> Sense {
    Sense { key: SENSE_ILLEGAL_REQUEST, asc, ascq: 0 }
}

fn be16(b: &[u8]) -> usize {
    u16::from_be_bytes([b[0], b[1]]) as usize
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn run_packet<I: IrqLine>(ch: &mut AtaChannel<I>, cdb: &[u8; PACKET_LEN]) -> Result<Response, Sense> {
    let Some(drive) = ch.cur() else { return Err(illegal(ASC_INVALID_OPCODE)) };
    let sectors = drive.sectors;
    match cdb[0] {
        op::TEST_UNIT_READY | op::START_STOP_UNIT | op::PREVENT_ALLOW | op::SEEK_10 => Ok(Response::None),
        op::REQUEST_SENSE => {
            let s = drive.sense;
            let mut d = vec![0u8; 18];
            d[0] = 0x70;
            d[2] = s.key;
            d[7] = 10;
            d[12] = s.asc;
            d[13] = s.ascq;
            drive.sense = Sense::default();
            Ok(Response::Data(d, cdb[4] as usize))
        }
        op::INQUIRY => {
            let mut d = vec![5, 0x80, 0x00, 0x21, 31, 0, 0, 0];
            d.extend_from_slice(b"FERRITE CD-ROM          1.0 ");
            Ok(Response::Data(d, cdb[4] as usize))
        }
        op::READ_CAPACITY => {
            let last = (sectors.saturating_sub(1)).min(u32::MAX as u64) as u32;
            let mut d = last.to_be_bytes().to_vec();
            d.extend_from_slice(&(CD_SECTOR_SIZE as u32).to_be_bytes());
            Ok(Response::Data(d, 8))
        }
        op::READ_10 | op::READ_12 => {
            let lba = be32(&cdb[2..6]) as u64;
            let count = if cdb[0] == op::READ_10 { be16(&cdb[7..9]) as u32 } else { be32(&cdb[6..10]) };
            if lba + count as u64 > sectors {
                return Err(illegal(ASC_LBA_OUT_OF_RANGE));
            }
            Ok(if count == 0 { Response::None } else { Response::Read { lba, count } })
        }
        op::MODE_SENSE_6 | op::MODE_SENSE_10 => mode_sense(cdb),
        op::READ_TOC => read_toc(cdb, sectors),
        op::GET_CONFIGURATION => {
            // Header (current profile CD-ROM) and the profile list feature.
            let mut d = vec![0, 0, 0, 12, 0, 0, 0x00, 0x08];
            d.extend_from_slice(&[0x00, 0x00, 0x03, 0x04, 0x00, 0x08, 0x01, 0x00]);
            Ok(Response::Data(d, be16(&cdb[7..9])))
        }
        op::GET_EVENT_STATUS => {
            if cdb[1] & 1 == 0 {
                return Err(illegal(ASC_INVALID_FIELD)); // only polled mode
            }
            // No event available; the media class is supported.
            Ok(Response::Data(vec![0, 2, 0x80, 0x10], be16(&cdb[7..9])))
        }
        _ => Err(illegal(ASC_INVALID_OPCODE)),
    }
}

/// MODE SENSE: the error-recovery (0x01) and capabilities (0x2A) pages.
fn mode_sense(cdb: &[u8; PACKET_LEN]) -> Result<Response, Sense> {
    let page = cdb[2] & 0x3F;
    let recovery = [0x01, 0x06, 0x00, 0x05, 0, 0, 0, 0];
    // Capabilities: reads CD-R/RW, audio play, lock, eject, tray loader; 706 KB/s.
    let caps =
        [0x2A, 0x12, 0x03, 0x00, 0x71, 0x60, 0x29, 0x00, 0x02, 0xC2, 0x00, 0x02, 0x02, 0x00, 0x02, 0xC2, 0, 0, 0, 0];
    let mut pages = Vec::new();
    match page {
        0x01 => pages.extend_from_slice(&recovery),
        0x2A => pages.extend_from_slice(&caps),
        0x3F => {
            pages.extend_from_slice(&recovery);
            pages.extend_from_slice(&caps);
        }
        _ => return Err(illegal(ASC_INVALID_FIELD)),
    }
    const MEDIUM_CD_ROM_DATA: u8 = 0x01;
    if cdb[0] == op::MODE_SENSE_6 {
        let mut d = vec![(pages.len() + 3) as u8, MEDIUM_CD_ROM_DATA, 0, 0];
        d.extend_from_slice(&pages);
        Ok(Response::Data(d, cdb[4] as usize))
    } else {
        let len = (pages.len() + 6) as u16;
        let mut d = vec![(len >> 8) as u8, len as u8, MEDIUM_CD_ROM_DATA, 0, 0, 0, 0, 0];
        d.extend_from_slice(&pages);
        Ok(Response::Data(d, be16(&cdb[7..9])))
    }
}

/// An address in a TOC: LBA, or MSF (with the 2-second lead-in) when `msf`.
fn toc_address(lba: u64, msf: bool) -> [u8; 4] {
    if !msf {
        return (lba as u32).to_be_bytes();
    }
    let f = lba + 150;
    [0, (f / (75 * 60)).min(255) as u8, (f / 75 % 60) as u8, (f % 75) as u8]
}

/// READ TOC: format 0 (one data track and the lead-out) and 1 (the single session).
fn read_toc(cdb: &[u8; PACKET_LEN], sectors: u64) -> Result<Response, Sense> {
    let msf = cdb[1] & 2 != 0;
    let format = match cdb[9] >> 6 {
        0 => cdb[2] & 0x0F,
        f => f,
    };
    const CONTROL_DATA_TRACK: u8 = 0x14;
    const LEAD_OUT: u8 = 0xAA;
    let mut d = match format {
        0 => {
            if cdb[6] > 1 && cdb[6] != LEAD_OUT {
                return Err(illegal(ASC_INVALID_FIELD));
            }
            let mut d = vec![0, 0, 1, 1];
            if cdb[6] <= 1 {
                d.extend_from_slice(&[0, CONTROL_DATA_TRACK, 1, 0]);
                d.extend_from_slice(&toc_address(0, msf));
            }
            d.extend_from_slice(&[0, CONTROL_DATA_TRACK, LEAD_OUT, 0]);
            d.extend_from_slice(&toc_address(sectors, msf));
            d
        }
        1 => {
            let mut d = vec![0, 0, 1, 1, 0, CONTROL_DATA_TRACK, 1, 0];
            d.extend_from_slice(&toc_address(0, msf));
            d
        }
        _ => return Err(illegal(ASC_INVALID_FIELD)),
    };
    let len = (d.len() - 2) as u16;
    d[..2].copy_from_slice(&len.to_be_bytes());
    Ok(Response::Data(d, be16(&cdb[7..9])))
}

#[cfg(test)]
#[path = "atapi_tests.rs"]
mod tests;
