package analyze

import (
	"bytes"
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"strings"
	"time"
)

// vtCertTime is sigcheck's date wording used by VirusTotal ("%H:%M %p
// %m/%d/%Y").
func vtCertTime(t time.Time) string { return t.UTC().Format("03:04 PM 01/02/2006") }

// spacedHex is sigcheck's serial number form: upper-case hex bytes
// separated by spaces.
func spacedHex(b []byte) string {
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = strings.ToUpper(hex.EncodeToString([]byte{c}))
	}
	return strings.Join(parts, " ")
}

func certName(c *x509.Certificate) string {
	if c.Subject.CommonName != "" {
		return c.Subject.CommonName
	}
	return c.Subject.String()
}

func certDetails(c *x509.Certificate) Attributes {
	th := sha1.Sum(c.Raw)
	issuer := c.Issuer.CommonName
	if issuer == "" {
		issuer = c.Issuer.String()
	}
	return Attributes{
		"name":          certName(c),
		"algorithm":     strings.ToLower(c.SignatureAlgorithm.String()),
		"cert issuer":   issuer,
		"serial number": spacedHex(c.SerialNumber.Bytes()),
		"thumbprint":    strings.ToUpper(hex.EncodeToString(th[:])),
		"valid from":    vtCertTime(c.NotBefore),
		"valid to":      vtCertTime(c.NotAfter),
	}
}

// signerChain orders certs from the signer up through its issuers found in
// the same bag.
func signerChain(signer *x509.Certificate, bag []*x509.Certificate) []*x509.Certificate {
	chain := []*x509.Certificate{signer}
	for cur := signer; len(chain) < 16; {
		if bytes.Equal(cur.RawIssuer, cur.RawSubject) {
			break
		}
		var next *x509.Certificate
		for _, c := range bag {
			if bytes.Equal(c.RawSubject, cur.RawIssuer) && !bytes.Equal(c.Raw, cur.Raw) {
				next = c
				break
			}
		}
		if next == nil {
			break
		}
		chain = append(chain, next)
		cur = next
	}
	return chain
}

// peSignaturePass fills signature_info's certificate facts from the
// Authenticode signature: signers, signers details, x509 and the own field
// digest_matches (the signed digest equals the image hash computed with the
// signature's hash function). Windows trust verdicts ("verified", status
// wording) are not produced.
func peSignaturePass(s *sample) (Attributes, error) {
	if s.pe == nil || len(s.pe.Certificates.Certificates) == 0 {
		return nil, nil
	}
	primary := s.pe.Certificates.Certificates[0]
	p7 := primary.Content
	signer := p7.GetOnlySigner()
	if signer == nil {
		return nil, nil
	}
	s.signed = true
	chain := signerChain(signer, p7.Certificates)
	var names []string
	var details []Attributes
	for _, c := range chain {
		names = append(names, certName(c))
		details = append(details, certDetails(c))
	}
	var x509s []Attributes
	for _, c := range p7.Certificates {
		x509s = append(x509s, certDetails(c))
	}
	sig := Attributes{
		"signers":         strings.Join(names, "; "),
		"signers details": details,
		"x509":            x509s,
	}
	sc := primary.SignatureContent
	if sc.HashFunction.Available() && len(sc.HashResult) > 0 {
		if got := s.pe.AuthentihashExt(sc.HashFunction.New()); len(got) > 0 {
			sig["digest_matches"] = bytes.Equal(got[0], sc.HashResult)
		}
	}
	return Attributes{"signature_info": sig}, nil
}

// tagsPass gives filetrail's own static tags (VirusTotal's rules are not
// published): peexe/pedll, 64bits, signed, overlay, assembly,
// detect-debug-environment, elf.
func tagsPass(s *sample) (Attributes, error) {
	var tags []string
	switch {
	case s.hdr != nil:
		if s.hdr.IsDLL() {
			tags = append(tags, "pedll")
		} else {
			tags = append(tags, "peexe")
		}
		if s.hdr.Is64() {
			tags = append(tags, "64bits")
		}
		if s.assembly {
			tags = append(tags, "assembly")
		}
		if s.signed {
			tags = append(tags, "signed")
		}
		if s.overlay {
			tags = append(tags, "overlay")
		}
		if s.debugEnv {
			tags = append(tags, "detect-debug-environment")
		}
	case s.isELF:
		tags = append(tags, "elf")
		if s.elfClass64 {
			tags = append(tags, "64bits")
		}
	}
	if tags == nil {
		return nil, nil
	}
	return Attributes{"tags": tags}, nil
}
