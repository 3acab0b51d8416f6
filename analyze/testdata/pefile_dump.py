import sys, json, hashlib, pefile
out = {}
for path in sys.argv[1:]:
    r = {}
    try:
        pe = pefile.PE(path)
    except Exception as e:
        out[path] = {"error": str(e)}; continue
    r["imphash"] = pe.get_imphash()
    r["entry_point"] = pe.OPTIONAL_HEADER.AddressOfEntryPoint
    r["machine_type"] = pe.FILE_HEADER.Machine
    r["timestamp"] = pe.FILE_HEADER.TimeDateStamp
    secs = []
    for s in pe.sections:
        d = s.get_data()
        secs.append({"name": s.Name.rstrip(b"\0").decode("latin-1"), "md5": hashlib.md5(d).hexdigest(),
                     "entropy": round(s.get_entropy(), 2), "raw_size": s.SizeOfRawData,
                     "virtual_address": s.VirtualAddress, "virtual_size": s.Misc_VirtualSize})
    r["sections"] = secs
    off = pe.get_overlay_data_start_offset()
    r["overlay_offset"] = off if off is not None else -1
    rh = pe.parse_rich_header()
    r["rich_pe_header_hash"] = hashlib.md5(rh["clear_data"]).hexdigest() if rh else ""
    res = []
    if hasattr(pe, "DIRECTORY_ENTRY_RESOURCE"):
        for t in pe.DIRECTORY_ENTRY_RESOURCE.entries:
            tname = str(t.name) if t.name is not None else pefile.RESOURCE_TYPE.get(t.id, str(t.id))
            for n in getattr(t, "directory", None).entries if hasattr(t, "directory") else []:
                for l in n.directory.entries if hasattr(n, "directory") else []:
                    d = pe.get_data(l.data.struct.OffsetToData, l.data.struct.Size)
                    res.append({"type": tname, "sha256": hashlib.sha256(d).hexdigest()})
    r["resources"] = res
    exps = []
    if hasattr(pe, "DIRECTORY_ENTRY_EXPORT"):
        for e in pe.DIRECTORY_ENTRY_EXPORT.symbols:
            if e.name: exps.append(e.name.decode("latin-1"))
    r["exports"] = exps
    vs = {}
    for fi in getattr(pe, "FileInfo", []) or []:
        for entry in fi:
            if getattr(entry, "Key", b"") == b"StringFileInfo":
                for st in entry.StringTable:
                    for k, v in st.entries.items():
                        vs.setdefault(k.decode("utf-8", "replace"), v.decode("utf-8", "replace"))
    r["version_strings"] = vs
    out[path] = r
json.dump(out, sys.stdout)
