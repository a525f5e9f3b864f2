use super::*;
use crate::ata::{REG_DATA, REG_ERROR, REG_LBA_HIGH, REG_LBA_MID, REG_NSECTOR, REG_STATUS};
use crate::ata_identify::Drive;
use crate::block::DiskImage;
use crate::NoIrq;

fn iso(sectors: usize) -> Vec<u8> {
    (0..sectors * 2048).map(|i| (i / 2048) as u8).collect()
}

fn cd_channel() -> AtaChannel<NoIrq> {
    AtaChannel::new(Some(Drive::cdrom(DiskImage::from_bytes(iso(20), true))), None, NoIrq)
}

/// Sends PACKET with byte-count limit `limit` and then `cdb`.
fn packet(ch: &mut AtaChannel<NoIrq>, cdb: [u8; 12], limit: u16) {
    ch.write(REG_ERROR, 1, 0);
    ch.write(REG_LBA_MID, 1, (limit & 0xFF) as u32);
    ch.write(REG_LBA_HIGH, 1, (limit >> 8) as u32);
    ch.write(REG_STATUS, 1, cmd::PACKET as u32);
    assert_eq!(ch.read(REG_NSECTOR, 1), 1, "asks for the command packet");
    for pair in cdb.chunks(2) {
        ch.write(REG_DATA, 2, u16::from_le_bytes([pair[0], pair[1]]) as u32);
    }
}

/// Reads one DRQ chunk.
fn chunk(ch: &mut AtaChannel<NoIrq>) -> Vec<u8> {
    let n = ch.read(REG_LBA_MID, 1) as usize | (ch.read(REG_LBA_HIGH, 1) as usize) << 8;
    (0..n / 2).flat_map(|_| (ch.read(REG_DATA, 2) as u16).to_le_bytes()).collect()
}

#[test]
fn test_atapi_signature_and_identify_abort() {
    let mut ch = cd_channel();
    assert_eq!((ch.read(REG_LBA_MID, 1), ch.read(REG_LBA_HIGH, 1)), (0x14, 0xEB));
    ch.write(REG_STATUS, 1, cmd::IDENTIFY as u32);
    assert_eq!(ch.read(REG_STATUS, 1) as u8 & ST_ERR, ST_ERR);
    assert_eq!((ch.read(REG_LBA_MID, 1), ch.read(REG_LBA_HIGH, 1)), (0x14, 0xEB));
    ch.write(REG_STATUS, 1, cmd::IDENTIFY_PACKET as u32);
    let id: Vec<u8> = (0..256).flat_map(|_| (ch.read(REG_DATA, 2) as u16).to_le_bytes()).collect();
    assert_eq!(id[1] >> 6, 2, "ATAPI device");
}

#[test]
fn test_atapi_read10_of_an_iso_sector() {
    let mut ch = cd_channel();
    packet(&mut ch, [op::READ_10, 0, 0, 0, 0, 16, 0, 0, 2, 0, 0, 0], 2048);
    assert_eq!(ch.read(REG_NSECTOR, 1), 2, "data to the host");
    let first = chunk(&mut ch);
    assert_eq!(first, vec![16u8; 2048]);
    let second = chunk(&mut ch);
    assert_eq!(second, vec![17u8; 2048]);
    assert_eq!(ch.read(REG_NSECTOR, 1), 3, "command complete");
    assert_eq!(ch.read(REG_STATUS, 1) as u8 & (ST_DRQ | ST_ERR), 0);
}

#[test]
fn test_atapi_small_byte_count_splits_chunks() {
    let mut ch = cd_channel();
    packet(&mut ch, [op::READ_12, 0, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0], 1000);
    let mut all = Vec::new();
    while ch.read(REG_NSECTOR, 1) == 2 {
        let c = chunk(&mut ch);
        assert!(c.len() <= 1000);
        all.extend(c);
    }
    assert_eq!(all, vec![3u8; 2048]);
}

#[test]
fn test_atapi_capacity_inquiry_toc_sense() {
    let mut ch = cd_channel();
    packet(&mut ch, [op::READ_CAPACITY, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 0xFFFF);
    assert_eq!(chunk(&mut ch), [0, 0, 0, 19, 0, 0, 8, 0]);
    packet(&mut ch, [op::INQUIRY, 0, 0, 0, 36, 0, 0, 0, 0, 0, 0, 0], 0xFFFF);
    let inq = chunk(&mut ch);
    assert_eq!((inq[0], inq.len()), (5, 36));
    packet(&mut ch, [op::READ_TOC, 0, 0, 0, 0, 0, 0, 0, 20, 0, 0, 0], 0xFFFF);
    let toc = chunk(&mut ch);
    assert_eq!(&toc[..4], &[0, 18, 1, 1]);
    assert_eq!(&toc[16..20], &[0, 0, 0, 20], "lead-out at the capacity");
    packet(&mut ch, [op::MODE_SENSE_10, 0, 0x2A, 0, 0, 0, 0, 0, 64, 0, 0, 0], 0xFFFF);
    assert_eq!(chunk(&mut ch)[8], 0x2A);
    packet(&mut ch, [op::GET_CONFIGURATION, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0], 0xFFFF);
    assert_eq!(&chunk(&mut ch)[6..8], &[0, 8], "current profile: CD-ROM");
    // Out of range, then the sense explains it.
    packet(&mut ch, [op::READ_10, 0, 0, 0, 0, 19, 0, 0, 2, 0, 0, 0], 2048);
    assert_eq!(ch.read(REG_STATUS, 1) as u8 & ST_ERR, ST_ERR);
    assert_eq!(ch.read(REG_ERROR, 1) as u8 >> 4, SENSE_ILLEGAL_REQUEST);
    packet(&mut ch, [op::REQUEST_SENSE, 0, 0, 0, 18, 0, 0, 0, 0, 0, 0, 0], 0xFFFF);
    let sense = chunk(&mut ch);
    assert_eq!((sense[2], sense[12]), (SENSE_ILLEGAL_REQUEST, 0x21));
    packet(&mut ch, [0xFF; 12], 0xFFFF);
    assert_eq!(ch.read(REG_STATUS, 1) as u8 & ST_ERR, ST_ERR, "unknown packet opcode");
    packet(&mut ch, [op::TEST_UNIT_READY; 12], 0xFFFF);
    assert_eq!(ch.read(REG_STATUS, 1) as u8 & ST_ERR, 0);
}
