#!/usr/bin/env python3
"""Writes small seed GGUF files for fuzz/gguf_fuzz into DIR (default ./gguf-corpus):
a byte-level BPE vocabulary, the fixture SentencePiece vocabulary with two tensors, and a file
of nested arrays. Usage: python3 tools/make_gguf_fuzz_seeds.py [DIR]"""
import os
import struct
import sys

OUT = sys.argv[1] if len(sys.argv) > 1 else "gguf-corpus"
os.makedirs(OUT, exist_ok=True)
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
def s(x): b=x.encode() if isinstance(x,str) else x; return struct.pack('<Q',len(b))+b
def kv(k,t,payload): return s(k)+struct.pack('<I',t)+payload
def arr(et, items): return struct.pack('<IQ',et,len(items))+b''.join(items)
def gguf(kvs, tensors=b'', ntens=0, data=b''):
    h=b'GGUF'+struct.pack('<IQQ',3,ntens,len(kvs))+b''.join(kvs)+tensors
    h+=b'\0'*((-len(h))%32)
    return h+data
# byte-level map
bs=list(range(ord("!"),ord("~")+1))+list(range(ord("¡"),ord("¬")+1))+list(range(ord("®"),ord("ÿ")+1))
cs=bs[:]; n=0
for b in range(256):
    if b not in bs: bs.append(b); cs.append(256+n); n+=1
m={b:chr(c) for b,c in zip(bs,cs)}
toks=[m[b] for b in range(256)]+['Ġt','he','Ġthe','<|im_end|>','<think>']
merges=['Ġ t','h e','Ġt he']
types=[1]*259+[3,4]
bpe=gguf([kv('general.architecture',8,s('qwen2')),kv('tokenizer.ggml.model',8,s('gpt2')),kv('tokenizer.ggml.pre',8,s('qwen2')),
  kv('tokenizer.ggml.tokens',9,arr(8,[s(t) for t in toks])),kv('tokenizer.ggml.token_type',9,arr(5,[struct.pack('<i',t) for t in types])),
  kv('tokenizer.ggml.merges',9,arr(8,[s(x) for x in merges])),kv('tokenizer.ggml.eos_token_id',4,struct.pack('<I',259))])
open(os.path.join(OUT,'bpe.gguf'),'wb').write(bpe)
# spm from fixture tokens
def rd(f,fmt): return struct.unpack('<'+fmt, f.read(struct.calcsize('<'+fmt)))[0]
def rs(f): n=rd(f,'Q'); return f.read(n)
SC={0:'B',1:'b',2:'H',3:'h',4:'I',5:'i',6:'f',7:'?',10:'Q',11:'q',12:'d'}
def rv(f,t):
    if t in SC: return (t,rd(f,SC[t]))
    if t==8: return (t,rs(f))
    et=rd(f,'I'); n=rd(f,'Q'); return (t,et,[rv(f,et) for _ in range(n)])
f=open(os.path.join(REPO,'tests/data/tokenizer/llama-f32.gguf'),'rb'); f.read(4); rd(f,'I'); nt=rd(f,'Q'); nk=rd(f,'Q')
kvs=[]
def enc(v):
    if v[0] in SC: return struct.pack('<'+SC[v[0]],v[1])
    if v[0]==8: return s(v[1])
    return struct.pack('<IQ',v[1],len(v[2]))+b''.join(enc(x) for x in v[2])
for _ in range(nk):
    k=rs(f).decode(); t=rd(f,'I'); v=rv(f,t); kvs.append(s(k)+struct.pack('<I',t)+enc(v))
ten=s('a')+struct.pack('<I',2)+struct.pack('<QQ',4,2)+struct.pack('<I',0)+struct.pack('<Q',0)
ten+=s('q')+struct.pack('<I',1)+struct.pack('<Q',32)+struct.pack('<I',8)+struct.pack('<Q',32)
open(os.path.join(OUT,'spm.gguf'),'wb').write(gguf(kvs,ten,2,b'\1'*32+b'\2'*34+b'\0'*30))
open(os.path.join(OUT,'small.gguf'),'wb').write(gguf([kv('a',9,arr(9,[arr(4,[struct.pack('<I',1)])])),kv('general.alignment',4,struct.pack('<I',64))]))
