package ssdeep

import (
	"fmt"
	"math"
)

// This file is the test oracle: the per-byte state machine of
// github.com/glaslos/ssdeep v0.4.0 (MIT, see LICENSE; with the trailing-"A"
// fix), which follows the reference implementation step by step. The
// package's two-pass implementation must produce the same digest for every
// input.

const oracleMaxTotalSize = blockMin << (numBlockhashes - 1) * spamSumLength

type rollingState struct {
	window [rollingWindow + 1]byte
	h1     uint32
	h2     uint32
	h3     uint32
	n      uint32
}

func (rs *rollingState) rollSum() uint32 {
	return rs.h1 + rs.h2 + rs.h3
}

type ssdeepState struct {
	rollingState rollingState
	iStart, iEnd int
	totalSize    uint64
	bsizeMask    uint32
	blocks       [numBlockhashes]blockHashState
}

type blockHashState struct {
	hashString             []byte
	blockSize              uint32
	blockHash1, blockHash2 byte
	tail1, tail2           byte
	// hasTail1 and hasTail2 record whether tail1/tail2 hold a value: 0 is
	// a valid value (base64 'A'), so it cannot mark absence.
	hasTail1, hasTail2 bool
}

func newSSDEEPState() ssdeepState {
	s := ssdeepState{
		iEnd: 1,
	}
	for i := range s.blocks {
		s.blocks[i].blockSize = blockMin << i
		s.blocks[i].blockHash1 = hashInit
		s.blocks[i].blockHash2 = hashInit
	}
	return s
}

// writeFast feeds r to the state: per byte, it updates every active
// block hash and the rolling hash (held in local variables), and handles a
// trigger point when the rolling hash hits one.
func (state *ssdeepState) writeFast(r []byte) {
	rs := &state.rollingState
	h1, h2, h3, n := rs.h1, rs.h2, rs.h3, rs.n
	for _, b := range r {
		blocks := state.blocks[state.iStart:state.iEnd]
		for i := range blocks {
			blk := &blocks[i]
			blk.blockHash1 = (blk.blockHash1*hashPrime ^ b) % 64
			blk.blockHash2 = (blk.blockHash2*hashPrime ^ b) % 64
		}
		h2 -= h1
		h2 += rollingWindow * uint32(b)
		h1 += uint32(b)
		h1 -= uint32(rs.window[n])
		rs.window[n] = b
		n++
		if n == rollingWindow {
			n = 0
		}
		h3 = h3<<5 ^ uint32(b)
		rh := h1 + h2 + h3
		if rh == math.MaxUint32 || ((rh+1)/blockMin)&state.bsizeMask > 0 || (rh+1)%blockMin > 0 {
			continue
		}
		state.trigger(rh)
	}
	rs.h1, rs.h2, rs.h3, rs.n = h1, h2, h3, n
}

// trigger handles a rolling-hash trigger point.
func (state *ssdeepState) trigger(rh uint32) {
	for i := state.iStart; i < state.iEnd; i++ {
		block := &state.blocks[i]
		if rh%block.blockSize == (block.blockSize - 1) {
			if len(block.hashString) == 0 {
				old := &state.blocks[state.iEnd-1]
				if state.iEnd <= numBlockhashes-1 {
					newb := &state.blocks[state.iEnd]
					newb.blockHash1 = old.blockHash1
					newb.blockHash2 = old.blockHash2
					state.iEnd++
				}
			}
			block.tail1, block.hasTail1 = block.blockHash1, true
			block.tail2, block.hasTail2 = block.blockHash2, true
			if len(block.hashString) < spamSumLength-1 {
				block.hashString = append(block.hashString, block.tail1)
				block.tail1, block.hasTail1 = 0, false
				block.blockHash1 = hashInit
				if len(block.hashString) < halfspamSumLength {
					block.blockHash2 = hashInit
					block.tail2, block.hasTail2 = 0, false
				}
			} else if state.isStartBlockFull() {
				state.iStart++
				state.bsizeMask = (state.bsizeMask << 1) + 1
			}
		}
	}
}

func (state *ssdeepState) isStartBlockFull() bool {
	return state.totalSize > uint64(state.blocks[state.iStart].blockSize*spamSumLength) &&
		len(state.blocks[state.iStart+1].hashString) >= halfspamSumLength
}

func (state *ssdeepState) digest() (string, error) {
	if state.totalSize > oracleMaxTotalSize {
		return "", ErrFileTooBig
	}

	var i = state.iStart
	for ; uint64(uint32(blockMin)<<i*spamSumLength) < state.totalSize; i++ {
	}

	if i >= state.iEnd {
		i = state.iEnd - 1
	}
	for i > state.iStart && len(state.blocks[i].hashString) < halfspamSumLength {
		i--
	}
	var bl1 = state.blocks[i]
	var bl2 = state.blocks[i+1]
	if i >= state.iEnd-1 {
		bl2 = state.blocks[i]
		bl2.hashString = append([]byte{}, bl1.hashString...)
	}
	var rh = state.rollingState.rollSum()

	if len(bl2.hashString) > halfspamSumLength-1 {
		bl2.hashString = bl2.hashString[:halfspamSumLength-1]
	}

	if rh != 0 {
		bl1.hashString = append(bl1.hashString, bl1.blockHash1)
		bl2.hashString = append(bl2.hashString, bl2.blockHash2)
	} else {
		if len(bl1.hashString) == spamSumLength-1 && bl1.hasTail1 {
			bl1.hashString = append(bl1.hashString, bl1.tail1)
		}
		if bl2.hasTail2 {
			bl2.hashString = append(bl2.hashString, bl2.tail2)
		}
	}
	for i := range bl1.hashString {
		bl1.hashString[i] = b64String[bl1.hashString[i]]
	}
	for i := range bl2.hashString {
		bl2.hashString[i] = b64String[bl2.hashString[i]]
	}

	return fmt.Sprintf("%d:%s:%s", bl1.blockSize, bl1.hashString, bl2.hashString), nil
}

// oracleDigest hashes data with the oracle (any size, like the reference
// ssdeep tool).
func oracleDigest(data []byte) (string, error) {
	state := newSSDEEPState()
	state.totalSize = uint64(len(data))
	state.writeFast(data)
	return state.digest()
}
